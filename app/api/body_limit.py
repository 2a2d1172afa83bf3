"""ASGI middleware that caps the request body while it is received, not after.

A declared Content-Length over the cap is refused before any byte is read (by the door that owns
the path, or by the route's own error handling); a chunked or lying body is cut off the moment the
running count passes the cap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.errors import ServiceError


class BodyTooLarge(ServiceError):
    code = "payload_too_large"


# detail -> (body, content type): how a protocol door words the refusal.
Refusal = Callable[[str], tuple[bytes, str]]


def _problem(detail: str) -> tuple[bytes, str]:
    body = {
        "type": "https://facematch.dev/problems/payload_too_large",
        "title": "Content Too Large",
        "status": 413,
        "code": "payload_too_large",
        "detail": detail,
    }
    return json.dumps(body).encode(), "application/problem+json"


class BodySizeLimit:
    """`refusals` maps a path prefix to a door's own wording of the 413 (DeepStack, CompreFace);
    other paths get an RFC 9457 problem."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, refusals: Mapping[str, Refusal] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusals = dict(refusals or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        path = scope.get("path", "")
        too_long = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        if too_long and self._refusal(path) is not None:
            await self._refuse(send, path)
            return
        # Elsewhere a declared length over the cap fails the app's first read, before any byte is
        # received, so the route's own error renderer answers: `/v1` with its problem, a door
        # without a path prefix of its own (Rekognition's `POST /`) in its protocol's format.
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            if too_long:
                raise BodyTooLarge(self._detail())
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self._detail())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Normally the app's handler answers; this is for paths outside it.
            if not started:
                await self._refuse(send, scope.get("path", ""))

    def _refusal(self, path: str) -> Refusal | None:
        return next((r for prefix, r in self.refusals.items() if path.startswith(prefix)), None)

    def _detail(self) -> str:
        return f"the request body exceeds {self.max_bytes} bytes"

    async def _refuse(self, send: Send, path: str) -> None:
        body, content_type = (self._refusal(path) or _problem)(self._detail())
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
