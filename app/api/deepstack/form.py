"""DeepStack's requests: one form (multipart or urlencoded) carrying the key, options and photos.

The body is read once per request (already capped by `app.api.body_limit`) and parsed in memory
(`app.api.multipart`: photos never touch the disk); the key reader and the route share the parse,
because FastAPI solves a dependency once per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.api.errors import RequestProblem
from app.api.multipart import parse_multipart
from app.services.errors import Unauthorized

_MAX_PARTS = 64  # as /v1: a form with more parts than this is not a face request


@dataclass(slots=True)
class DeepStackForm:
    fields: dict[str, str] = field(default_factory=dict)  # text fields, first value of each name
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (field name, bytes), in order

    def file(self, name: str) -> bytes | None:
        return next((data for field_name, data in self.files if field_name == name), None)


def _parse(body: bytes, content_type: str) -> DeepStackForm:
    kind = content_type.split(";")[0].strip().lower()
    form = DeepStackForm()
    if kind == "multipart/form-data":
        for part in parse_multipart(body, content_type, max_parts=_MAX_PARTS):
            if part.is_file:  # DeepStack (gin) counts parts with a filename as files
                form.files.append((part.name, bytes(part.data)))
            else:
                form.fields.setdefault(part.name, part.data.decode("utf-8", errors="replace"))
    elif kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_PARTS)
        except ValueError as exc:
            raise RequestProblem(f"the form has more than {_MAX_PARTS} fields") from exc
        for name, value in pairs:
            form.fields.setdefault(name, value)
    # Anything else carries no form fields: without `api_key` the key check answers.
    return form


async def read_form(request: Request) -> DeepStackForm:
    body = await request.body()
    return await run_in_threadpool(_parse, body, request.headers.get("content-type", ""))


FormDep = Annotated[DeepStackForm, Depends(read_form)]


def form_api_key(form: FormDep) -> str:
    """DeepStack's key reader: the `api_key` form field. There is no keyless mode."""
    key = form.fields.get("api_key", "")
    if not key:
        raise Unauthorized("Incorrect api key")
    return key
