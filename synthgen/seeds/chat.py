"""Chat-shaped seeds (`messages`, ShareGPT `conversations`): turns with roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthgen.seeds.fields import Example, Fault, Parsed, kind_of, text

MULTI_TURN = "multi-turn: only the first exchange is used"


_ROLES = {
    "messages": {
        "system": "system",
        "developer": "system",
        "user": "user",
        "assistant": "assistant",
    },
    "conversations": {
        "system": "system",
        "human": "user",
        "user": "user",
        "gpt": "assistant",
        "assistant": "assistant",
    },
}


def chat_parser(
    key: str, role_key: str, content_key: str
) -> Callable[[dict[str, Any], str | None, bool], Parsed]:
    """A parser for one chat shape (its list key and turn keys) that takes its first exchange."""
    roles = _ROLES[key]

    def parse(obj: dict[str, Any], rid: str | None, need_output: bool) -> Parsed:
        turns = obj.pop(key)
        if not isinstance(turns, list):
            raise Fault(
                "wrong_type",
                key,
                f"must be a list of turns, not {kind_of(turns)}",
                f'write e.g. "{key}": [{{"{role_key}": "...", "{content_key}": "..."}}]',
            )
        system: list[str] = []
        found: dict[str, str] = {}
        used = 0
        for i, turn in enumerate(turns):
            name = f"{key}[{i}]"
            role, content = _turn(turn, name, roles, role_key, content_key)
            want = "user" if "user" not in found else "assistant"
            if role == "system" and not found:
                system.append(text(content, f"{name}.{content_key}", required=False))
            elif role == want:
                required = need_output or role == "user"
                found[role] = text(content, f"{name}.{content_key}", required=required)
            else:
                raise Fault(
                    "bad_turns",
                    f"{name}.{role_key}",
                    f"expected {'a user' if want == 'user' else 'an assistant'} turn here, "
                    f"got {turn[role_key]!r}",
                    f"the conversation must start (after an optional system turn) with a user "
                    f"turn followed by an assistant turn; allowed {role_key} values: "
                    + ", ".join(roles),
                )
            used = i + 1
            if len(found) == 2:
                break
        if len(found) < 2:
            missing = "user" if not found else "assistant"
            raise Fault(
                "missing_field",
                key,
                f"has no {missing} turn" + (" after the first user turn" if found else ""),
                f"add {'an' if missing == 'assistant' else 'a'} {missing} turn so the record "
                "has one user → assistant exchange",
            )
        warnings = []
        if used < len(turns):
            warnings.append(
                Fault(
                    "multi_turn",
                    key,
                    f"{MULTI_TURN} ({_turns(len(turns) - used)} after it ignored)",
                    "split long conversations into one record per exchange to use them all",
                )
            )
        if system:
            obj["system"] = "\n\n".join(system)
        return Parsed(rid, [Example(found["user"], "", found["assistant"])], obj, warnings)

    return parse


def _turns(n: int) -> str:
    return "1 turn" if n == 1 else f"{n} turns"


def _turn(
    turn: Any, name: str, roles: dict[str, str], role_key: str, content_key: str
) -> tuple[str, Any]:
    if not isinstance(turn, dict):
        raise Fault(
            "wrong_type",
            name,
            f"must be an object, not {kind_of(turn)}",
            f'each turn looks like {{"{role_key}": "...", "{content_key}": "..."}}',
        )
    for k in (role_key, content_key):
        if k not in turn:
            raise Fault("missing_field", f"{name}.{k}", "missing", f'add "{k}" to this turn')
    role = turn[role_key]
    if role not in roles:
        raise Fault(
            "bad_role",
            f"{name}.{role_key}",
            f"unknown value {role!r}",
            f"use one of: {', '.join(roles)}",
        )
    content = turn[content_key]
    if isinstance(content, list):  # OpenAI content parts: keep only when all are text
        if all(isinstance(p, dict) and p.get("type") == "text" for p in content):
            content = "".join(str(p.get("text", "")) for p in content)
        else:
            raise Fault(
                "wrong_type",
                f"{name}.{content_key}",
                "has non-text content parts",
                "seeds must be plain text; keep only text parts",
            )
    return roles[role], content
