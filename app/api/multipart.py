"""multipart/form-data parsed in memory.

Starlette's form parser spools uploads over 1 MiB to temporary files; photos are biometric data and
must never touch the disk, so the (already size-capped) body is parsed here instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.api.errors import RequestProblem


@dataclass(slots=True)
class Part:
    name: str
    is_file: bool  # a filename was given: a file field, not a text field
    data: bytearray


def parse_multipart(body: bytes, content_type: str, *, max_parts: int) -> list[Part]:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise RequestProblem("the multipart body has no boundary")
    parts: list[Part] = []
    headers: dict[bytes, bytes] = {}
    field = bytearray()
    value = bytearray()

    def on_part_begin() -> None:
        headers.clear()
        if len(parts) >= max_parts:
            raise RequestProblem(f"at most {max_parts} parts per request")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(field).lower()] = bytes(value)
        field.clear()
        value.clear()

    def on_headers_finished() -> None:
        disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise RequestProblem("a multipart part lacks a form-data name")
        name = options[b"name"].decode("utf-8", errors="replace")
        parts.append(Part(name, b"filename" in options, bytearray()))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.extend(data[start:end])

    try:
        parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": on_part_begin,
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
            },
        )
        parser.write(body)
        parser.finalize()
    # FormParserError covers the parse errors and a boundary over the parser's 256-byte limit,
    # which it raises from the constructor (that one used to answer 500).
    except FormParserError as exc:
        raise RequestProblem(f"the multipart body is malformed: {exc}") from exc
    return parts
