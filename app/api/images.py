"""Photos in a request: multipart file fields or JSON base64 strings, chosen by content type.

Nothing is fetched on the caller's behalf (no URLs, no server paths). The body has already been
capped while it was read (`app.api.body_limit`), so reading it whole here is bounded, and it is
parsed in memory (`app.api.multipart`): photos never touch the disk.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.api.errors import RequestProblem
from app.api.multipart import parse_multipart
from app.services.errors import ServiceError

_MAX_PARTS = 64  # a form with more parts than this is not a face request


def _kind(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return "multipart"
    if content_type == "application/json" or content_type.endswith("+json"):
        return "json"
    raise ServiceError(
        f"send multipart/form-data or application/json, not {content_type or 'nothing'!r}",
        code="unsupported_media_type",
    )


def _b64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise RequestProblem(f"{field}: expected a base64 string")
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]  # data: URL, as browsers produce them
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestProblem(f"{field}: not valid base64") from exc


async def read_images(
    request: Request, fields: tuple[str, ...], *, repeatable: bool = False
) -> dict[str, list[bytes]]:
    """{field: [photo bytes, ...]} for each field; every field must be present."""
    kind = _kind(request)
    body = await request.body()
    # Parsing up to max_body_bytes of multipart or base64 is CPU work: keep it off the event loop.
    return await run_in_threadpool(
        _extract, kind, body, request.headers.get("content-type", ""), fields, repeatable
    )


def _extract(
    kind: str, body: bytes, content_type: str, fields: tuple[str, ...], repeatable: bool
) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {}
    if kind == "multipart":
        parts = parse_multipart(body, content_type, max_parts=_MAX_PARTS)
        for field in fields:
            values = [p for p in parts if p.name == field]
            if not values:
                raise RequestProblem(f"{field}: a file field named {field!r} is required")
            if any(not p.is_file for p in values):
                raise RequestProblem(f"{field}: must be a file, not a text field")
            found[field] = [bytes(p.data) for p in values]
    else:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
            raise RequestProblem("the body is not valid JSON") from exc
        if not isinstance(document, dict):
            raise RequestProblem("the JSON body must be an object")
        for field in fields:
            value = document.get(field)
            if value is None:
                raise RequestProblem(f"{field}: a base64 string named {field!r} is required")
            items = value if isinstance(value, list) and repeatable else [value]
            if not items:
                raise RequestProblem(f"{field}: at least one image is required")
            found[field] = [_b64(v, field) for v in items]
    for field, items in found.items():
        if not repeatable and len(items) > 1:
            raise RequestProblem(f"{field}: send exactly one image")
        if len(items) > _MAX_PARTS:
            raise RequestProblem(f"{field}: at most {_MAX_PARTS} images per request")
    return found


async def _one_image(request: Request) -> bytes:
    return (await read_images(request, ("image",)))["image"][0]


async def _many_images(request: Request) -> list[bytes]:
    return (await read_images(request, ("image",), repeatable=True))["image"]


async def _image_pair(request: Request) -> tuple[bytes, bytes]:
    found = await read_images(request, ("image_a", "image_b"))
    return found["image_a"][0], found["image_b"][0]


ImageBytes = Annotated[bytes, Depends(_one_image)]
ImageList = Annotated[list[bytes], Depends(_many_images)]
ImagePair = Annotated[tuple[bytes, bytes], Depends(_image_pair)]


def image_body(*fields: str, repeatable: bool = False) -> dict[str, Any]:
    """`openapi_extra` documenting both ways to send the photos."""
    file_schema: dict[str, Any] = {"type": "string", "format": "binary"}
    b64_schema: dict[str, Any] = {"type": "string", "format": "byte"}
    if repeatable:
        count = {"minItems": 1, "maxItems": _MAX_PARTS}
        file_schema = {"type": "array", "items": file_schema, **count}
        b64_schema = {"oneOf": [b64_schema, {"type": "array", "items": b64_schema, **count}]}
    return {
        "requestBody": {
            "required": True,
            "description": "Photos as multipart file fields, or as base64 strings in JSON.",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": list(fields),
                        "properties": {f: file_schema for f in fields},
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": list(fields),
                        "properties": {f: b64_schema for f in fields},
                    },
                    "example": {f: "/9j/4AAQSkZJRgABAQAAAQABAAD..." for f in fields},
                },
            },
        }
    }
