"""Segment messages from a file a user has: JSON lines, a JSON array, an SDK batch body
(``{"batch": [...]}``, as analytics-python and analytics-node post to Segment's HTTP API), or
one pretty-printed message (pure, no I/O).

JSON lines keep each line's bytes exactly as given, so a bad line is rejected with its raw
form kept; a line that is itself a batch body or an array (a proxy's or request log's capture
of the SDKs' posts, one request per line) is its messages, in order. Messages taken out of an
array or a batch are re-encoded one per message. A
batch's top-level ``context``, ``integrations`` and ``sentAt`` apply to each of its messages
where the message has none, as Segment's HTTP API applies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

_BATCH_DEFAULTS = ("context", "integrations", "sentAt")


def _from_document(document: Any) -> list[bytes] | None:
    """The messages of a whole-file JSON document, or None when it is one message or not a container."""
    if type(document) is list:
        return [orjson.dumps(item) for item in document]
    if type(document) is dict and type(document.get("batch")) is list:
        defaults = {key: document[key] for key in _BATCH_DEFAULTS if key in document}
        return [orjson.dumps({**defaults, **item} if type(item) is dict else item) for item in document["batch"]]
    return None


def document_messages(data: bytes) -> list[bytes] | None:
    """The messages of ``data`` when it is one JSON document (an array, a batch body, one
    message, pretty-printed or not); None when it is not (JSON lines, or not JSON)."""
    stripped = data.strip()
    try:
        document = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    messages = _from_document(document)
    return messages if messages is not None else [stripped]


def line_messages(line: bytes) -> list[bytes]:
    """The messages of one JSON line: a batch body's or an array's, else the line itself (its
    bytes as given, valid JSON or not: the mapping decides its outcome)."""
    stripped = line.strip()
    if not (stripped.startswith(b"[") or b'"batch"' in stripped):  # (most lines: one message, not parsed here)
        return [line]
    try:
        messages = _from_document(orjson.loads(stripped))
    except orjson.JSONDecodeError:
        return [line]
    return messages if messages is not None else [line]


def split_messages(data: bytes) -> Iterator[bytes]:
    """Each Segment message of ``data``, in order (see the module doc for the forms read)."""
    if not data.strip():
        return
    messages = document_messages(data)
    if messages is not None:
        yield from messages
        return
    for line in data.splitlines():
        if line.strip():
            yield from line_messages(line)
