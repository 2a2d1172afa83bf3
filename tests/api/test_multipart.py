"""The in-memory multipart parser (photos never spool to disk)."""

from __future__ import annotations

import httpx
import pytest

from app.api.errors import RequestProblem
from app.api.multipart import parse_multipart


def _encode(files: list, data: dict | None = None) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.read(), request.headers["content-type"]


def test_file_and_text_fields_are_told_apart() -> None:
    body, content_type = _encode([("image", ("a.jpg", b"\xff\xd8jpeg"))], {"note": "hi"})
    parts = {p.name: p for p in parse_multipart(body, content_type, max_parts=8)}
    assert parts["image"].is_file and bytes(parts["image"].data) == b"\xff\xd8jpeg"
    assert not parts["note"].is_file and bytes(parts["note"].data) == b"hi"


def test_repeated_field_keeps_every_file_in_order() -> None:
    body, content_type = _encode([("image", ("a", b"1" * 3_000_000)), ("image", ("b", b"2"))])
    parts = parse_multipart(body, content_type, max_parts=8)
    assert [len(p.data) for p in parts] == [3_000_000, 1]


def test_too_many_parts_is_refused() -> None:
    body, content_type = _encode([("image", (f"{i}", b"x")) for i in range(5)])
    with pytest.raises(RequestProblem):
        parse_multipart(body, content_type, max_parts=4)


def test_missing_boundary_is_refused() -> None:
    with pytest.raises(RequestProblem):
        parse_multipart(b"--x\r\n", "multipart/form-data", max_parts=4)


def test_truncated_body_is_refused_or_yields_no_complete_part() -> None:
    body, content_type = _encode([("image", ("a.jpg", b"abc"))])
    try:
        parts = parse_multipart(body[:40], content_type, max_parts=4)
    except RequestProblem:
        return
    assert all(p.name != "image" or bytes(p.data) != b"abc" for p in parts)
