"""Amazon's own service model for Rekognition drives what the door accepts and answers.

`service-2.subset.json` is the part of botocore's `rekognition` 2016-06-27 model this door serves,
copied by `scripts/export_rekognition_model.py` (a test keeps it equal to the installed botocore's).
It ships with the package, so the service does not depend on botocore at run time.

- `parse_request` checks a decoded JSON body against the operation's input shape the way AWS's
  front end does (required members, types, lengths, ranges, enums, patterns) and turns `blob`
  members (base64 on the wire) into bytes. A violation is AWS's `ValidationException`, with AWS's
  message format ("1 validation error detected: Value ... at 'collectionId' failed to satisfy
  constraint: ...").
- `render_response` walks the output shape: unknown members are a programming error (botocore's
  parser would silently drop them), None members are left out, numbers get the declared type.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

MODEL_FILE = Path(__file__).with_name("service-2.subset.json")

# The operations this door serves (and the only ones copied into the subset).
OPERATIONS: tuple[str, ...] = (
    "CreateCollection",
    "DescribeCollection",
    "ListCollections",
    "DeleteCollection",
    "IndexFaces",
    "ListFaces",
    "DeleteFaces",
    "SearchFaces",
    "SearchFacesByImage",
    "CompareFaces",
    "DetectFaces",
    "CreateUser",
    "DeleteUser",
    "ListUsers",
    "AssociateFaces",
    "DisassociateFaces",
    "SearchUsers",
    "SearchUsersByImage",
)


class ValidationFailure(ValueError):
    """The request breaks a constraint of the model; `str()` is AWS's message."""


@cache
def service_model() -> dict[str, Any]:
    model: dict[str, Any] = json.loads(MODEL_FILE.read_text())
    return model


def _shape(name: str) -> dict[str, Any]:
    shape: dict[str, Any] = service_model()["shapes"][name]
    return shape


def operation_shapes(operation: str) -> tuple[str, str]:
    op = service_model()["operations"][operation]
    return op["input"]["shape"], op["output"]["shape"]


def error_is_fault(code: str) -> bool:
    """A server-side error (`"fault": true`: InternalServerError, ThrottlingException)."""
    shape = service_model()["shapes"].get(code)
    return bool(shape and shape.get("fault"))


# --- requests ---------------------------------------------------------------------------------


def _lower_first(name: str) -> str:
    # AWS names members in validation messages with a lower-case first letter: 'collectionId'.
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 64 else text[:61] + "..."


def parse_request(operation: str, body: Any) -> dict[str, Any]:
    """The validated request: a dict keyed by member name, blobs decoded to bytes."""
    input_shape, _ = operation_shapes(operation)
    if not isinstance(body, dict):
        raise ValidationFailure("Start of structure or map found where not expected.")
    errors: list[str] = []
    parsed = _parse(body, input_shape, "", errors)
    if errors:
        shown = "; ".join(errors[:10])
        noun = "error" if len(errors) == 1 else "errors"
        raise ValidationFailure(f"{len(errors)} validation {noun} detected: {shown}")
    result: dict[str, Any] = parsed
    return result


def _violation(errors: list[str], value: Any, where: str, constraint: str) -> None:
    failed = f"failed to satisfy constraint: Member must {constraint}"
    errors.append(f"Value '{_show(value)}' at '{where}' {failed}")


def _parse(value: Any, shape_name: str, where: str, errors: list[str]) -> Any:
    shape = _shape(shape_name)
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            errors.append(f"Value at '{where}' must be a structure")
            return None
        members = shape.get("members", {})
        out: dict[str, Any] = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                # AWS's JSON front end ignores members it does not know; so does botocore.
                continue
            if item is None:
                continue
            path = f"{where}.{_lower_first(name)}" if where else _lower_first(name)
            out[name] = _parse(item, member["shape"], path, errors)
        for name in shape.get("required", []):
            if name not in out:
                path = f"{where}.{_lower_first(name)}" if where else _lower_first(name)
                message = "failed to satisfy constraint: Member must not be null"
                errors.append(f"Value null at '{path}' {message}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            errors.append(f"Value at '{where}' must be a list")
            return None
        _check_size(len(value), value, shape, where, errors, "have length")
        member = shape["member"]["shape"]
        return [
            _parse(item, member, f"{where}.{i + 1}.member", errors) for i, item in enumerate(value)
        ]
    if kind == "map":
        if not isinstance(value, dict):
            errors.append(f"Value at '{where}' must be a map")
            return None
        key_shape, value_shape = shape["key"]["shape"], shape["value"]["shape"]
        return {
            _parse(k, key_shape, where, errors): _parse(v, value_shape, f"{where}.{k}", errors)
            for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            errors.append(f"Value at '{where}' must be a string")
            return None
        _check_size(len(value), value, shape, where, errors, "have length")
        if "enum" in shape and value not in shape["enum"]:
            _violation(
                errors, value, where, f"satisfy enum value set: [{', '.join(shape['enum'])}]"
            )
        pattern = shape.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            _violation(errors, value, where, f"satisfy regular expression pattern: {pattern}")
        return value
    if kind == "blob":
        if not isinstance(value, str):
            errors.append(f"Value at '{where}' must be a base64-encoded string")
            return None
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            errors.append(f"Value at '{where}' is not valid base64")
            return None
        _check_size(len(data), "<bytes>", shape, where, errors, "have length")
        return data
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"Value at '{where}' must be an integer")
            return None
        _check_size(value, value, shape, where, errors, "have value")
        return value
    if kind in ("float", "double"):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            errors.append(f"Value at '{where}' must be a number")
            return None
        _check_size(value, value, shape, where, errors, "have value")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"Value at '{where}' must be a boolean")
            return None
        return value
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"Value at '{where}' must be a timestamp in epoch seconds")
            return None
        return value
    raise AssertionError(f"shape {shape_name} of type {kind} is not handled")


def _check_size(
    measure: float, value: Any, shape: dict[str, Any], where: str, errors: list[str], what: str
) -> None:
    low, high = shape.get("min"), shape.get("max")
    if low is not None and measure < low:
        _violation(errors, value, where, f"{what} greater than or equal to {_num(low)}")
    if high is not None and measure > high:
        _violation(errors, value, where, f"{what} less than or equal to {_num(high)}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- responses --------------------------------------------------------------------------------


def render_response(operation: str, result: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for `result`, shaped by the operation's output shape."""
    _, output_shape = operation_shapes(operation)
    rendered: dict[str, Any] = _render(result, output_shape, operation)
    return rendered


def _render(value: Any, shape_name: str, where: str) -> Any:
    shape = _shape(shape_name)
    kind = shape["type"]
    if kind == "structure":
        members = shape.get("members", {})
        unknown = set(value) - set(members)
        if unknown:
            raise AssertionError(f"{where}: {sorted(unknown)} are not members of {shape_name}")
        return {
            name: _render(item, members[name]["shape"], f"{where}.{name}")
            for name, item in value.items()
            if item is not None
        }
    if kind == "list":
        member = shape["member"]["shape"]
        return [_render(item, member, f"{where}[]") for item in value]
    if kind == "map":
        value_shape = shape["value"]["shape"]
        return {str(k): _render(v, value_shape, f"{where}.{k}") for k, v in value.items()}
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        number = float(value)
        low, high = shape.get("min"), shape.get("max")
        # Rounding can push a 0-100 percentage a hair outside its declared range.
        if low is not None:
            number = max(float(low), number)
        if high is not None:
            number = min(float(high), number)
        return number
    if kind == "timestamp":
        assert isinstance(value, datetime), where
        return value.timestamp()
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "boolean":
        return bool(value)
    if kind == "string":
        if "enum" in shape and value not in shape["enum"]:
            raise AssertionError(f"{where}: {value!r} is not in {shape_name}'s enum")
        return str(value)
    raise AssertionError(f"shape {shape_name} of type {kind} is not handled")
