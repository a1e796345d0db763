"""Prompt templates: text files with stable hashes, rendered with $placeholders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template as _T

from synthgen.records import PromptRef, sha256_hex

SPLIT = "\n---- user ----\n"


@dataclass(frozen=True)
class Template:
    """A system part and a user part; the hash covers both, so any edit shows in provenance."""

    name: str
    system: str
    user: str

    @property
    def sha256(self) -> str:
        """The hash provenance records, so any edit to either part shows in the records."""
        return sha256_hex(f"{self.system}{SPLIT}{self.user}")

    @property
    def ref(self) -> PromptRef:
        """How records name this prompt: template and hash, to trace them back to exact wording."""
        return PromptRef(template=self.name, template_sha256=self.sha256)

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with `values` filled in; a missing value raises, never sent unfilled."""
        msgs = []
        if self.system.strip():
            msgs.append({"role": "system", "content": _T(self.system).substitute(values).strip()})
        msgs.append({"role": "user", "content": _T(self.user).substitute(values).strip()})
        return msgs


@lru_cache(maxsize=64)
def load(name: str) -> Template:
    """A packaged template by name, read once; a file without the user marker is all user part."""
    text = resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    system, _, user = text.partition(SPLIT)
    if not user:
        system, user = "", system
    return Template(name=name, system=system, user=user)


@lru_cache(maxsize=64)
def evol(operator: str) -> Template:
    """The evol base prompt with one operator's instruction spliced in."""
    base = load("evol")
    op = load(f"evol_{operator}")
    return Template(
        name=f"evol:{operator}",
        system=base.system,
        user=base.user.replace("$operator_instruction", op.user.strip()),
    )


def repair_ask(error: str) -> str:
    """The repair re-ask's words: the unusable reply's fault, and to send only the JSON."""
    return load("repair").render(error=error)[0]["content"]
