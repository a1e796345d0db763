"""Chat-shaped seeds (`messages`, ShareGPT `conversations`): turns with roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthgen.seeds.fields import Example, Fault, Parsed, kind_of, text

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
    """A parser for one chat shape (its list key and turn keys) that reads the whole
    conversation: its system prompt and every exchange."""
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
        convo: list[tuple[str, str]] = []
        for i, turn in enumerate(turns):
            name = f"{key}[{i}]"
            role, content = _turn(turn, name, roles, role_key, content_key)
            want = "assistant" if convo and convo[-1][0] == "user" else "user"
            if role == "system" and not convo:
                system.append(text(content, f"{name}.{content_key}", required=False))
            elif role == want:
                required = need_output or role == "user"
                convo.append((role, text(content, f"{name}.{content_key}", required=required)))
            else:
                raise Fault(
                    "bad_turns",
                    f"{name}.{role_key}",
                    f"expected {'a user' if want == 'user' else 'an assistant'} turn here, "
                    f"got {turn[role_key]!r}",
                    "a conversation starts (after an optional system turn) with a user turn, "
                    f"then user and assistant turns alternate; allowed {role_key} values: "
                    + ", ".join(roles),
                )
        if len(convo) < 2:
            missing = "user" if not convo else "assistant"
            raise Fault(
                "missing_field",
                key,
                f"has no {missing} turn" + (" after the first user turn" if convo else ""),
                f"add {'an' if missing == 'assistant' else 'a'} {missing} turn so the record "
                "has at least one user → assistant exchange",
            )
        warnings = []
        if convo[-1][0] == "user":
            convo.pop()  # a question nobody answered teaches nothing
            warnings.append(
                Fault(
                    "unanswered_turn",
                    key,
                    "ends on a user turn with no answer; that last turn is left out",
                    "end the conversation on an assistant turn",
                )
            )
        if system:
            obj["system"] = "\n\n".join(system)
        whole = None
        if len(convo) > 2:  # a conversation: every turn is kept, its system prompt included
            whole = (*((("system", obj["system"]),) if system else ()), *convo)
        ex = Example(convo[0][1], "", convo[1][1], messages=whole)
        return Parsed(rid, [ex], obj, warnings)

    return parse


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
