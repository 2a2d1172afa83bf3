"""ASGI middleware that caps the request body while it is received, not after: in size and in
time.

A declared Content-Length over the cap is refused before any byte is read (by the door that owns
the path, or by the route's own error handling); a chunked or lying body is cut off the moment the
running count passes the cap. The whole body must also arrive within `read_timeout_s` of the
request's start (408 otherwise): a client trickling a byte every few seconds would otherwise keep
a request, and whatever it holds, open for as long as it likes (issue 11).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import PROBLEM_JSON, problem_body
from app.services.errors import ServiceError


class BodyTooLarge(ServiceError):
    code = "payload_too_large"


class BodyReadTimeout(ServiceError):
    code = "request_timeout"


# detail -> (body, content type): how a protocol door words the refusal.
Refusal = Callable[[str], tuple[bytes, str]]


def _problem(detail: str) -> tuple[bytes, str]:
    # The same problem body the app's handlers render, from the one renderer.
    return json.dumps(problem_body(BodyTooLarge.code, detail)).encode(), PROBLEM_JSON


def _timeout_problem(detail: str) -> bytes:
    body = {
        "type": "https://facematch.dev/problems/request_timeout",
        "title": "Request Timeout",
        "status": 408,
        "code": "request_timeout",
        "detail": detail,
    }
    return json.dumps(body).encode()


class BodySizeLimit:
    """`refusals` maps a path prefix to a door's own wording of the 413 (DeepStack, CompreFace);
    other paths get an RFC 9457 problem."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        read_timeout_s: float = 60.0,
        refusals: Mapping[str, Refusal] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s
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
        deadline = asyncio.get_running_loop().time() + self.read_timeout_s

        async def counting_receive() -> Message:
            nonlocal received
            if too_long:
                raise BodyTooLarge(self._detail())
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimeout(
                    f"the request body did not arrive within {self.read_timeout_s:g} s"
                ) from None
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
        except BodyReadTimeout as exc:
            # Normally the app's (or the door's) handler answers 408; this is for paths outside.
            if not started:
                body = _timeout_problem(exc.detail)
                await self._send(send, 408, body, "application/problem+json")

    def _refusal(self, path: str) -> Refusal | None:
        return next((r for prefix, r in self.refusals.items() if path.startswith(prefix)), None)

    def _detail(self) -> str:
        return f"the request body exceeds {self.max_bytes} bytes"

    async def _refuse(self, send: Send, path: str) -> None:
        body, content_type = (self._refusal(path) or _problem)(self._detail())
        await self._send(send, 413, body, content_type)

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
