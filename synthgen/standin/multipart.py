"""multipart/form-data request bodies (file uploads), parsed with the standard library."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass


@dataclass(frozen=True)
class FormField:
    """One form field: its value's bytes, and the filename when it is a file."""

    data: bytes
    filename: str | None


def parse_form(content_type: str, body: bytes) -> dict[str, FormField]:
    """The fields of a multipart/form-data body by name; ValueError when it is not one."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in (
        content_type.lower()
    ):
        raise ValueError("expected a multipart/form-data body with a boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise ValueError("the multipart body is malformed or truncated")
    fields: dict[str, FormField] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise ValueError("a form part has no name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = FormField(data, part.get_filename())
    return fields
