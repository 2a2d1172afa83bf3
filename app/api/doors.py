"""What every protocol door (DeepStack, CompreFace, ...) shares: routes that answer every failure
in the door's own error format, the `x-protocol` mark on its OpenAPI operations (tests hold
facematch's own routes to `/v1` conventions and the marked ones to their protocol's), examples."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import ConfigDict, JsonValue


def answering_with(render: Callable[[Exception], Response]) -> type[APIRoute]:
    """A route class whose routes turn any exception, dependencies included, into `render`'s
    answer instead of the app's RFC 9457 problem."""

    class DoorRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:  # every failure becomes the door's answer
                    return render(exc)

            return answer

    return DoorRoute


def protocol(tag: str) -> dict[str, Any]:
    """`openapi_extra` marking an operation that speaks another API's wire format."""
    return {"x-protocol": tag}


def example(value: JsonValue) -> ConfigDict:
    """A response model's documented example."""
    return ConfigDict(json_schema_extra={"examples": [value]})
